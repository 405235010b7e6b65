from django.contrib import admin
from django.urls import path

from tickets.dashboard_views import dashboard

app_name = "dashboard"

# admin_view: staff only (others go to the admin login), no caching, CSRF as the admin's own pages.
urlpatterns = [path("", admin.site.admin_view(dashboard), name="index")]
