"""Account and role administration in the back office (issue 11): superuser-only.

No staff role (Arztregister, Abrechnung, Zulassung) sees or changes accounts, groups, second
factors, lockouts or API tokens; every change is written through `accounts.services` with
old → new values to the access log. TOTP secrets and backup codes are never shown; a
re-issued initial password is shown once from the server-side session, never in a cookie."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_otp.plugins.otp_static import admin as otp_static_admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from kvportal.accounts import services
from kvportal.accounts.constants import StaffRole
from kvportal.accounts.models import ApiToken, PortalRight, User
from kvportal.core.admin_base import ReadOnlyMixin

#: Session key of the passwords waiting to be shown once (server-side session store).
INITIAL_PASSWORDS_KEY = "kvportal_initial_passwords"


if TYPE_CHECKING:  # the mixins are only ever combined with a ModelAdmin
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


def _is_superuser(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.is_superuser)


class SuperuserOnlyMixin(_ModelAdminBase):
    """Whatever the group permissions say: only superusers reach this model admin."""

    def has_module_permission(self, request):
        return _is_superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return _is_superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return _is_superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return _is_superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_superuser(request) and super().has_delete_permission(request, obj)


#: Third-party apps the back office only shows: deleting a lockout record would unlock an
#: account without the audited action "Konto entsperren".
READ_ONLY_APPS = {"axes"}


def restrict_to_superusers(site: admin.AdminSite, staff_apps: set[str]) -> None:
    """Default deny: every registered model outside the staff roles' own apps becomes
    superuser-only (third-party admins of axes, Celery beat … included)."""
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label in staff_apps or isinstance(model_admin, SuperuserOnlyMixin):
            continue
        cls = type(model_admin)
        bases: tuple[type, ...] = (SuperuserOnlyMixin, cls)
        if model._meta.app_label in READ_ONLY_APPS:
            bases = (SuperuserOnlyMixin, ReadOnlyMixin, cls)
        site.unregister(model)
        site.register(model, type(cls.__name__, bases, {}))


def remember_initial_password(request, user: User, password: str) -> None:
    pending = request.session.get(INITIAL_PASSWORDS_KEY, [])
    pending.append({"username": user.username, "password": password})
    request.session[INITIAL_PASSWORDS_KEY] = pending


class PortalRightInline(admin.TabularInline):
    model = PortalRight
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["betriebsstaette"]
    readonly_fields = ["granted_by", "granted_at"]

    def has_change_permission(self, request, obj=None):
        return False  # grant a new row or withdraw one: both through the services


class StaffAccountForm(forms.Form):
    username = forms.CharField(label="Nutzername", max_length=150)
    first_name = forms.CharField(label="Vorname", max_length=150)
    last_name = forms.CharField(label="Nachname", max_length=150)
    email = forms.EmailField(label="E-Mail", required=False)
    roles = forms.MultipleChoiceField(
        label="Rollen",
        choices=StaffRole.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


@admin.register(User)
class UserAdmin(SuperuserOnlyMixin, BaseUserAdmin):
    list_display = [
        "username",
        "display_name",
        "kind",
        "is_active",
        "is_superuser",
        "must_change_password",
    ]
    list_filter = ["kind", "is_active", "is_superuser", "must_change_password", "groups"]
    search_fields = ["username", "first_name", "last_name", "person__lanr"]
    autocomplete_fields = ["person"]
    inlines = [PortalRightInline]
    actions = ["unlock", "reissue_password", "deactivate"]
    readonly_fields = ["last_login", "date_joined", "first_password_change_at"]
    fieldsets = (
        (None, {"fields": ("username",)}),
        ("Persönliche Daten", {"fields": ("first_name", "last_name", "email")}),
        (
            "Rollen und Berechtigungen",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Portal",
            {
                "fields": (
                    "kind",
                    "person",
                    "must_change_password",
                    "initial_password_expires_at",
                    "notify_by_email",
                )
            },
        ),
        ("Daten", {"fields": ("last_login", "date_joined", "first_password_change_at")}),
    )

    def get_urls(self):
        own = [
            path(
                "initialpasswort/",
                self.admin_site.admin_view(self.initial_password_view),
                name="accounts_user_initial_password",
            ),
        ]
        return own + super().get_urls()

    # -- views ---------------------------------------------------------------------------

    def user_change_password(self, request, id, form_url=""):
        """Nobody sets another person's password: re-issue a one-time initial password."""
        raise Http404("Passwörter werden nicht im Backoffice gesetzt.")

    def add_view(self, request, form_url="", extra_context=None):
        """New KV staff accounts only (members come through the access applications)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StaffAccountForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                user, password = services.create_kv_staff_account(
                    actor=request.user,
                    username=data["username"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    roles=[StaffRole(r) for r in data["roles"]],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                remember_initial_password(request, user, password)
                return redirect("admin:accounts_user_initial_password")
        context = {
            **self.admin_site.each_context(request),
            "title": "Konto für Mitarbeiter der KV anlegen",
            "form": form,
            "opts": self.opts,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "accounts/admin_staff_account_add.html", context)

    def initial_password_view(self, request):
        """Shows the freshly issued passwords once, then forgets them."""
        if not _is_superuser(request):
            raise PermissionDenied
        pending = request.session.pop(INITIAL_PASSWORDS_KEY, [])
        context = {
            **self.admin_site.each_context(request),
            "title": "Neue Initialpasswörter",
            "pending": pending,
            "opts": self.opts,
            "changelist_url": reverse("admin:accounts_user_changelist"),
        }
        response = TemplateResponse(request, "accounts/admin_initial_password.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def get_form(
        self, request: HttpRequest, obj: User | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[User]]:
        base = super().get_form(request, obj, change=change, **kwargs)
        acting = request.user

        class AccountForm(base):  # type: ignore[valid-type,misc]  # form class built at runtime
            def clean(self):
                data = super().clean()
                if self.instance.pk == acting.pk:
                    for field in ("is_superuser", "is_active", "is_staff"):
                        if field in self.changed_data:
                            self.add_error(
                                field,
                                "Ihre eigenen Rechte der Kontenverwaltung ändert ein anderer "
                                "Superuser.",
                            )
                return data

        return AccountForm

    # -- writes through the services ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:  # the add view above never gets here
            raise PermissionDenied
        data = form.cleaned_data
        services.update_account(
            actor=request.user,
            user=obj,
            values={f: data[f] for f in services.ACCOUNT_FIELDS if f in data},
            groups=list(data["groups"]) if "groups" in data else None,
            permissions=list(data["user_permissions"]) if "user_permissions" in data else None,
        )

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # groups and permissions were set by update_account
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for right in formset.deleted_objects:
            services.revoke_right(actor=request.user, portal_right=right)
        for right in instances:
            services.grant_right(
                actor=request.user,
                user=right.user,
                betriebsstaette=right.betriebsstaette,
                right=right.right,
            )

    def has_delete_permission(self, request, obj=None):
        return False  # accounts are deactivated, never deleted (the access log refers to them)

    @admin.action(description="Konto entsperren (nach Fehlversuchen)")
    def unlock(self, request, queryset):
        for user in queryset:
            services.unlock_account(actor=request.user, user=user)
        messages.success(request, f"{queryset.count()} Konto/Konten entsperrt.")

    @admin.action(description="Neues Initialpasswort erzeugen (altes wird ungültig)")
    def reissue_password(self, request, queryset):
        for user in queryset:
            password = services.issue_initial_password(actor=request.user, user=user)
            remember_initial_password(request, user, password)
        return redirect("admin:accounts_user_initial_password")

    @admin.action(description="Konto deaktivieren (Rechte und API-Zugänge enden)")
    def deactivate(self, request, queryset):
        done = 0
        for user in queryset:
            try:
                services.deactivate_account(actor=request.user, user=user)
            except PermissionDenied as exc:
                messages.error(request, f"{user.username}: {exc}")
            else:
                done += 1
        if done:
            messages.success(request, f"{done} Konto/Konten deaktiviert.")


@admin.register(ApiToken)
class ApiTokenAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="API-Zugang widerrufen", permissions=["view"])
    def revoke(self, request, queryset):
        for token in queryset:
            services.revoke_api_token(actor=request.user, token=token)
        messages.success(request, f"{queryset.count()} API-Zugang/-Zugänge widerrufen.")


class DeviceAdminMixin(SuperuserOnlyMixin):
    """Second factors: listed and removable (lost phone), never shown or edited."""

    list_display = ["user", "name", "created_at", "last_used_at", "confirmed"]
    readonly_fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    fieldsets = [(None, {"fields": tuple(readonly_fields)})]
    inlines: ClassVar[list[type[InlineModelAdmin[Any, Any]]]] = []

    def get_list_display(self, request):
        return self.list_display

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets  # django-otp's own fieldsets would show the key

    def get_inline_instances(self, request, obj=None):
        return []

    def get_urls(self):
        """django-otp's config/QR views answer 404 for everyone (kept as explicit URLs so
        they do not fall through to the admin's object redirect)."""
        opts = self.opts
        gone = [
            path(
                f"<int:pk>/{view}/",
                self.admin_site.admin_view(self.secret_gone),
                name=f"{opts.app_label}_{opts.model_name}_{view}",
            )
            for view in ("config", "qrcode")
        ]
        return gone + admin.ModelAdmin.get_urls(self)

    def secret_gone(self, request, pk):
        raise Http404("Der geheime Schlüssel wird nach der Einrichtung nie mehr angezeigt.")

    def has_add_permission(self, request):
        return False  # each user enrols his own device in the portal

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.reset_second_factor(actor=request.user, device=obj)

    def delete_queryset(self, request, queryset):
        for device in queryset:
            services.reset_second_factor(actor=request.user, device=device)


class TOTPDeviceAdmin(DeviceAdminMixin, otp_totp_admin.TOTPDeviceAdmin):
    pass


class StaticDeviceAdmin(DeviceAdminMixin, otp_static_admin.StaticDeviceAdmin):
    pass


class GroupAdmin(SuperuserOnlyMixin, ReadOnlyMixin, BaseGroupAdmin):
    """The staff roles' permissions are defined in code (`accounts.apps.ROLE_APPS`) and
    reset at every migrate; roles are assigned on the account."""


for _model, _admin in (
    (TOTPDevice, TOTPDeviceAdmin),
    (StaticDevice, StaticDeviceAdmin),
    (Group, GroupAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
