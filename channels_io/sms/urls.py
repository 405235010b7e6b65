from django.urls import path

from channels_io.sms import views

app_name = "sms"

urlpatterns = [
    path("inbound", views.inbound, name="inbound"),
    path("status", views.status, name="status"),
]
