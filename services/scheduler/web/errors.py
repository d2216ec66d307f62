"""The pages' error pages: the status in plain words, never what failed."""

from flask import render_template
from werkzeug.http import HTTP_STATUS_CODES

MESSAGES = {
    400: "The form could not be used: it may have expired. Go back, reload the page and try again.",
    403: "Your role does not allow this page or action.",
    404: "There is no page at this address.",
    405: "This page cannot be used that way.",
    429: "Too many attempts in a short time. Wait a minute and try again.",
    500: "Something went wrong on our side. It has been logged; please try again.",
    503: "The system is busy or restarting. Please try again in a few seconds.",
}


def error_page(status: int):
    title = HTTP_STATUS_CODES.get(status, "Error")
    message = MESSAGES.get(status, "The request could not be handled.")
    return render_template("error.html", status=status, title=title, message=message), status
