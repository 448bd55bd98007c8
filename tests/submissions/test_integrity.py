"""Optimistic locking, the append-only audit trail, and artifact limits."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from caisi_portal.errors import NotPermitted, PayloadTooLarge, SubmissionChanged, TransitionRefused, ValidationFailed
from submissions import services
from submissions.models import Artifact, AuditEntry, ModelSubmission, State
from tests.factories import move, record_all_results

pytestmark = pytest.mark.django_db


class TestConcurrentTransitions:
    def test_two_people_act_at_once_exactly_one_wins(self, cast):
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        seen_by_lead = ModelSubmission.objects.get(pk=s.pk)
        seen_by_admin = ModelSubmission.objects.get(pk=s.pk)
        move(seen_by_admin, "request_information", cast.admin)
        with pytest.raises(SubmissionChanged, match="changed while you were working on it"):
            move(seen_by_lead, "clear", cast.lead)
        s.refresh_from_db()
        assert s.state == State.INFORMATION_REQUESTED
        assert not AuditEntry.objects.filter(submission=s, action="clear").exists()
        assert not hasattr(s, "determination") or s.determination is None

    def test_stale_page_state_is_refused(self, cast):
        s = cast.submission(State.INTAKE)
        with pytest.raises(SubmissionChanged):
            services.submission_transition(
                submission=s, name="withdraw", actor=cast.developer, expected_state=State.EVALUATION
            )


class TestAuditTrail:
    def test_entries_cannot_be_changed_or_deleted(self, cast):
        s = cast.submission(State.INTAKE)
        entry = AuditEntry.objects.filter(submission=s).first()
        entry.comment = "rewritten"
        with pytest.raises(PermissionError):
            entry.save()
        with pytest.raises(PermissionError):
            entry.delete()
        with pytest.raises(PermissionError):
            AuditEntry.objects.filter(submission=s).update(comment="x")
        with pytest.raises(PermissionError):
            AuditEntry.objects.filter(submission=s).delete()

    def test_admin_site_offers_no_change_or_delete(self, cast, client):
        from django.contrib.auth import get_user_model

        root = get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-root-only")
        client.force_login(root)
        s = cast.submission(State.INTAKE)
        entry = AuditEntry.objects.filter(submission=s).first()
        assert client.get(f"/admin/submissions/auditentry/{entry.pk}/delete/").status_code == 403
        response = client.post(f"/admin/submissions/auditentry/{entry.pk}/change/", {"comment": "x"})
        assert response.status_code == 403
        assert AuditEntry.objects.get(pk=entry.pk).comment == entry.comment

    def test_admin_site_shows_state_read_only(self, cast, client):
        from django.contrib.auth import get_user_model

        root = get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-root-only")
        client.force_login(root)
        s = cast.submission(State.INTAKE)
        page = client.get(f"/admin/submissions/modelsubmission/{s.pk}/change/").content.decode()
        assert 'name="state"' not in page


class TestArtifacts:
    def upload(self, cast, submission, name, body):
        return services.artifact_upload(
            submission=submission,
            actor=cast.developer,
            kind=Artifact.Kind.EVALUATION_REPORT,
            uploaded=SimpleUploadedFile(name, body),
        )

    def test_pdf_and_text_accepted_with_digest(self, cast):
        s = cast.submission()
        a = self.upload(cast, s, "report.pdf", b"%PDF-1.7\n...")
        assert a.content_type == "application/pdf" and len(a.sha256) == 64 and a.size == 12
        assert not a.file.name.endswith("report.pdf")  # stored under a random name

    def test_oversized_file_is_refused_with_sizes(self, cast, settings):
        settings.ARTIFACT_MAX_BYTES = 1024
        s = cast.submission()
        with pytest.raises(PayloadTooLarge, match="largest artifact accepted"):
            self.upload(cast, s, "big.txt", b"a" * 2048)

    @pytest.mark.parametrize(
        ("name", "body", "message"),
        [
            ("tool.exe", b"MZ\x90\x00", "must be PDF"),
            ("fake.pdf", b"just text", "does not match its name"),
            ("card.md", b"%PDF-1.4 binary", "does not match its name"),
            ("data.json", b"{not json", "could not be read as JSON"),
            ("archive.txt", b"PK\x03\x04\x00\x00", "must be PDF"),
        ],
    )
    def test_wrong_types_are_refused(self, cast, name, body, message):
        s = cast.submission()
        with pytest.raises(ValidationFailed, match=message):
            self.upload(cast, s, name, body)

    def test_filename_is_sanitised(self, cast):
        s = cast.submission()
        a = self.upload(cast, s, "../../etc/pass wd<script>.txt", b"hello")
        assert "/" not in a.original_name and "<" not in a.original_name

    def test_not_after_evaluation_starts(self, cast):
        s = cast.submission(State.EVALUATION)
        with pytest.raises(NotPermitted):
            self.upload(cast, s, "late.txt", b"late")

    def test_other_lab_cannot_upload(self, cast):
        s = cast.submission()
        with pytest.raises(NotPermitted):
            services.artifact_upload(
                submission=s, actor=cast.other_developer, kind="other", uploaded=SimpleUploadedFile("a.txt", b"x")
            )


class TestDrafts:
    def test_duplicate_model_version_is_a_clear_error(self, cast):
        cast.submission(model_name="Same", model_version="1.0")
        with pytest.raises(ValidationFailed, match=r"already has a submission for Same 1\.0"):
            cast.submission(model_name="Same", model_version="1.0")

    def test_withdrawn_version_can_be_filed_again(self, cast):
        cast.submission(State.WITHDRAWN, model_name="Again", model_version="2")
        assert cast.submission(model_name="Again", model_version="2").state == State.DRAFT

    def test_only_developer_staff_create(self, cast):
        with pytest.raises(NotPermitted):
            services.submission_create_draft(actor=cast.admin, model_name="x", model_version="1", release_channel="api")

    def test_edit_only_while_draft(self, cast):
        s = cast.submission(State.INTAKE)
        with pytest.raises(TransitionRefused, match="Only a draft"):
            services.submission_update_draft(submission=s, actor=cast.developer, capabilities="changed")
        with pytest.raises(NotPermitted):
            services.submission_update_draft(submission=s, actor=cast.other_developer, capabilities="changed")
