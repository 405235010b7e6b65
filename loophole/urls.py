from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from loophole import login, views

admin.site.site_header = "Loophole support"
admin.site.site_title = "Loophole support"
admin.site.index_title = "Support desk"
admin.site.login_form = login.AdminLoginForm  # the same lock-out as /accounts/login/

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", login.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("help/", include("assistant.urls")),
    path("chat/", include("channels_io.chat.urls")),
    path("channels/sms/", include("channels_io.sms.urls")),
    path("channels/voice/", include("channels_io.voice.urls")),
    path("anymail/", include("channels_io.email.urls")),  # /anymail/postmark/inbound/
    path("admin/", admin.site.urls),
]
