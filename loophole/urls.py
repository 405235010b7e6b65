from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import TemplateView

from loophole import accounts, login, views

admin.site.site_header = "Loophole support"
admin.site.site_title = "Loophole support"
admin.site.index_title = "Support desk"
admin.site.login_form = login.AdminLoginForm  # the same lock-out as /accounts/login/

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", login.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.SignupView.as_view(), name="signup"),
    path("accounts/signup/done/", accounts.SignupDoneView.as_view(), name="signup_done"),
    path(
        "accounts/verify/sent/",
        login_required(TemplateView.as_view(template_name="registration/verify_email_sent.html")),
        name="verify_email_sent",
    ),
    path("accounts/verify/resend/", accounts.resend_verification, name="verify_email_resend"),
    path(
        "accounts/verify/done/",
        TemplateView.as_view(template_name="registration/verify_email_done.html"),
        name="verify_email_done",
    ),
    path("accounts/verify/<str:token>/", accounts.verify_email, name="verify_email"),
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/", accounts.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/password_change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", accounts.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("help/", include("assistant.urls")),
    path("chat/", include("channels_io.chat.urls")),
    path("channels/sms/", include("channels_io.sms.urls")),
    path("channels/voice/", include("channels_io.voice.urls")),
    path("anymail/", include("channels_io.email.urls")),  # /anymail/postmark/inbound/
    path("admin/dashboard/", include("tickets.dashboard_urls")),
    # Staff's live ticket pages (before the admin's own catch-all of object ids).
    path("admin/tickets/ticket/", include("channels_io.desk_urls")),
    path("admin/", admin.site.urls),
]
