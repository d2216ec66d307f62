"""What the three services share: the event contract, messaging, persistence and web plumbing. No business rules."""
