from django.urls import path

from channels_io.voice import views

app_name = "voice"

urlpatterns = [
    path("inbound", views.inbound, name="inbound"),
    path("turn", views.turn, name="turn"),
    path("wait", views.wait, name="wait"),
    path("status", views.status, name="status"),
]
