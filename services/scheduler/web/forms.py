"""The forms of the staff pages; Flask-WTF adds each one's CSRF token."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from ..domain.staff import MAX_PASSWORD_LENGTH


class SignInForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired("Enter your username."), Length(max=64)])
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)]
    )
