"""What an objection's contact may be: a mainland mobile, a landline with its area code, or an
email address (spaces and hyphens between digits allowed); anything else is refused."""
from __future__ import annotations

import pytest

from forms.publicity import is_contact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("contact", ["13912345678", "139 1234 5678", "139-1234-5678", "+86 13912345678",
                                     "025-86661234", "0519 8666 1234", "0519-8666123", "li@example.com",
                                     "wang.wu@mail.example.cn"])
def test_phone_numbers_and_emails_are_contacts(contact):
    assert is_contact(contact)


@pytest.mark.parametrize("contact", ["abc", "139", "12345678901", "1391234567", "025-123", "86661234",
                                     "a@b", "@example.com", "li@", "li @example.com", "10086"])
def test_anything_else_is_refused(contact):
    assert not is_contact(contact)
