"""Your settings: picture, name, bio, email, password.

A new email or password needs the current password too: a session cookie is
easier to borrow (an unlocked browser) than an account's password.
"""

from __future__ import annotations

from flask import redirect, render_template, url_for

from imflask_api.deps import context
from imflask_app.web import forms, messages
from imflask_app.web.blueprint import web
from imflask_app.web.forms import form_view
from imflask_app.web.session import require_user, sign_in
from imflask_controllers import users as accounts


@web.get("/settings")
def settings():
    """The settings form, filled with the signed-in user's profile."""
    user = require_user()
    form = {"image": user.image or "", "username": user.username, "bio": user.bio or ""}
    return render_template("settings.html", form={**form, "email": user.email}, errors={})


@web.post("/settings")
@form_view("settings.html")
def settings_submit():
    """Update the profile; the session is renewed (a new password ends every other one)."""
    user = require_user()
    data = forms.settings_form()
    updated = accounts.update_user(
        context(),
        user=user,
        token="",
        changes=data.changes(),
        current_password=forms.current_password(),
    )
    sign_in(updated.id)
    messages.settings_saved()
    return redirect(url_for("web.profile", username=updated.username))
