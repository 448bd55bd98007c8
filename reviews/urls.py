from django.urls import path

from . import views

app_name = "reviews"
urlpatterns = [
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/assign-suggested/", views.assign_suggested, name="assign_suggested"),
    path("conflict-check/", views.conflict_check, name="conflict_check"),
    path("<int:pk>/results/", views.record_result, name="record_result"),
    path("<int:pk>/plan/", views.plan_versions, name="plan_versions"),
    path("<int:pk>/findings/", views.record_finding, name="record_finding"),
    path("<int:pk>/findings/<int:finding_pk>/evidence/", views.evidence_download, name="evidence"),
    path("<int:pk>/findings/<int:finding_pk>/resolve/", views.resolve_finding, name="resolve_finding"),
    path("<int:pk>/propose-flag/", views.propose_flag, name="propose_flag"),
    path("<int:pk>/propose-clear/", views.propose_clear, name="propose_clear"),
    path("<int:pk>/concur/", views.concur, name="concur"),
    path("<int:pk>/advisories/", views.advisory_propose, name="advisory_propose"),
    path("<int:pk>/advisories/<int:advisory_pk>/concur/", views.advisory_concur, name="advisory_concur"),
    path("<int:pk>/assignments/<int:assignment_pk>/remind/", views.remind, name="remind"),
    path("<int:pk>/assignments/<int:assignment_pk>/end/", views.end_assignment, name="end_assignment"),
]
