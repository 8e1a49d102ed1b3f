"""The admin's widget page: embed snippet, settings, pre-chat form, secret.

The page only ever shows and changes the signed-in admin's own workspace;
the rules live in :mod:`app.domain.widget_settings`.
"""

from __future__ import annotations

import logging

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from app.admin import Page, bp, tenant
from app.admin.forms import SecretForm, WidgetForm
from app.domain import widget_settings
from app.domain.tenancy import Tenant
from app.domain.widget_settings import MAX_GREETING, PRECHAT_FIELDS, WidgetSettings
from app.errors import ValidationError
from app.extensions import db

logger = logging.getLogger(__name__)

CONFIRM_SECRET = (
    "Tick the box to confirm: hashes made with the current secret will stop verifying."
)


@bp.route("/widget", methods=["GET", "POST"])
def widget() -> Page:
    """Show the embed snippet and identity secret; save the widget settings."""
    scope = tenant()
    form = WidgetForm(data=_form_data(scope))
    if form.validate_on_submit():
        try:
            changed = widget_settings.save(scope, _given(form), by=current_user)
        except ValidationError as error:
            db.session.rollback()
            _show_problems(form, error)
        else:
            logger.info(
                "Workspace %s widget settings changed: %s", scope.workspace_id, changed
            )
            flash("Widget settings saved." if changed else "Nothing changed.", "info")
            return redirect(url_for("admin.widget"))
    status = 400 if request.method == "POST" else 200
    return _widget_page(scope, form, SecretForm(formdata=None), status)


@bp.post("/widget/identity-secret")
def identity_secret() -> Page:
    """Make a new identity secret, once the admin confirms replacing the old one."""
    scope = tenant()
    form = SecretForm()
    workspace = widget_settings.workspace_of(scope)
    replacing = widget_settings.stored_identity_secret(workspace) is not None
    if not form.validate_on_submit() or (replacing and not form.confirm.data):
        form.confirm.errors = [CONFIRM_SECRET]
        blank = WidgetForm(formdata=None, data=_form_data(scope))
        return _widget_page(scope, blank, form, 400)

    widget_settings.regenerate_identity_secret(scope, by=current_user)
    logger.info("Workspace %s identity secret regenerated", scope.workspace_id)
    flash(
        "A new identity secret is in place. Hashes made with the old one no "
        "longer verify: put the new secret on your server now.",
        "info",
    )
    return redirect(url_for("admin.widget", reveal=1, _anchor="identity"))


def _form_data(scope: Tenant) -> dict[str, str]:
    """Return the stored settings as the widget form's starting values."""
    values = widget_settings.form_values(widget_settings.workspace_of(scope))
    return {
        "greeting": values.greeting,
        "color": values.color,
        "language": values.language,
        "allowed_origins": values.allowed_origins,
        "topic_options": values.topic_options,
        **{f"ask_{name}": values.prechat[name] for name in PRECHAT_FIELDS},
    }


def _given(form: WidgetForm) -> WidgetSettings:
    """Return what the admin typed, for the domain to check."""
    return WidgetSettings(
        greeting=form.greeting.data or "",
        color=form.color.data or "",
        language=form.language.data or "",
        allowed_origins=form.allowed_origins.data or "",
        prechat={name: form[f"ask_{name}"].data for name in PRECHAT_FIELDS},
        topic_options=form.topic_options.data or "",
    )


def _show_problems(form: WidgetForm, error: ValidationError) -> None:
    """Put the domain's sentences on the form fields they are about."""
    flash(error.message, "error")
    for name, messages in error.details.get("fields", {}).items():
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            for message in messages:
                flash(message, "error")


def _widget_page(
    scope: Tenant, form: WidgetForm, secret_form: SecretForm, status: int
) -> Response:
    """Render the widget page; it may hold the secret, so nothing caches it."""
    workspace = widget_settings.workspace_of(scope)
    public_url = current_app.config["SETTINGS"].public_url
    page = render_template(
        "admin/widget.html",
        workspace=workspace,
        snippet=widget_settings.embed_snippet(public_url, workspace.widget_key),
        any_origin=widget_settings.open_to_any_origin(workspace),
        secret=widget_settings.stored_identity_secret(workspace),
        reveal=request.args.get("reveal") == "1",
        other_fields=widget_settings.unmanaged_prechat_fields(workspace),
        form=form,
        secret_form=secret_form,
        max_greeting=MAX_GREETING,
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response
