from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # The operator console, before the admin's URLs (whose catch-all would otherwise answer for it).
    path("admin/steady-queue/", include("steady_queue.console.urls")),
    path("admin/", admin.site.urls),
]
