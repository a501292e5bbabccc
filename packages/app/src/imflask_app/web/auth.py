"""Sign up, sign in, sign out: the session cookie is rotated each time."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from imflask_api.deps import context
from imflask_api.security import client_ip
from imflask_app.web import forms, messages
from imflask_app.web.blueprint import web
from imflask_app.web.forms import form_view
from imflask_app.web.session import sign_in, sign_out
from imflask_app.web.urls import safe_next
from imflask_controllers import users as accounts
from imflask_controllers.errors import Unauthenticated


@web.get("/login")
def login():
    """The sign-in form."""
    return render_template("login.html", form={}, errors={})


@web.post("/login")
@form_view("login.html", also=(Unauthenticated,))
def login_submit():
    """Sign in with email and password, then go back where the user was."""
    data = forms.sign_in_form()
    user = accounts.log_in(
        context(), email=data.email, password=data.password, client_ip=client_ip()
    )
    sign_in(user.id)
    messages.signed_in(user.username)
    return redirect(safe_next(url_for("web.home")))


@web.get("/register")
def register():
    """The sign-up form."""
    return render_template("register.html", form={}, errors={})


@web.post("/register")
@form_view("register.html")
def register_submit():
    """Create an account and sign in with it."""
    data = forms.sign_up_form()
    user = accounts.register_user(
        context(),
        username=data.username,
        email=data.email,
        password=data.password,
        client_ip=client_ip(),
    )
    sign_in(user.id)
    messages.signed_up(user.username)
    return redirect(url_for("web.home"))


@web.post("/logout")
def logout():
    """Sign out: the session is emptied and gets a new CSRF nonce."""
    sign_out()
    return redirect(url_for("web.home"))
