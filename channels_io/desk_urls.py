"""Staff's live ticket pages, under the admin's ticket URLs (included before the admin's own catch-all)."""

from django.contrib import admin
from django.urls import path

from channels_io import desk

urlpatterns = [
    path("events/", admin.site.admin_view(desk.list_events), name="ticket_list_events"),
    path("<int:pk>/events/", admin.site.admin_view(desk.ticket_events), name="ticket_events"),
]
