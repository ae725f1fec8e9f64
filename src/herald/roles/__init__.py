"""Role grants of users in customers and projects: which are in force, and which
organisations a user belongs to through them (one home for both, used by the
audience, the recipients preview and the suppression report)."""
