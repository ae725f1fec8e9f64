"""Herald's own operators: staff and support users, and their tokens."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from herald.core.models import User
from herald.directory.repository import find_user_by_email


def ensure_staff(session: Session, email: str, full_name: str, support: bool) -> User:
    """Find the directory user with this address, or create one, and make them staff or support.

    An existing user keeps the role they had; the flag asked for is added and
    the account is activated, since its holder is about to get a working token.
    """
    user = find_user_by_email(session, email)
    if user is None:
        user = User(
            uuid=uuid.uuid4().hex,
            username=email.split("@")[0],
            email=email.strip(),
            full_name=full_name.strip(),
            is_active=True,
            is_staff=False,
            is_support=False,
            local=True,  # Herald's own operator: no import removes them
        )
        session.add(user)
    if support:
        user.is_support = True
    else:
        user.is_staff = True
    user.is_active = True
    if full_name.strip() and not user.full_name:
        user.full_name = full_name.strip()
    session.flush()
    return user
