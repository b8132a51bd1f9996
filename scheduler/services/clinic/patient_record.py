"""One patient as the front desk sees them: contact and consent, visits, and texts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Appointment, InboundMessage, Message, Patient
from ..platform import records

MAX_ROWS = 200  # a long course is a few dozen visits; a page of this many is plenty


@dataclass(frozen=True)
class PatientRecord:
    patient: Patient
    visits: list[Appointment]  # newest first
    texts: list[Message]  # newest first
    replies: list[InboundMessage]  # newest first


def patient_record(patient_id: int) -> PatientRecord:
    patient = db.session.scalar(select(Patient).where(Patient.id == patient_id)
                                .options(joinedload(Patient.home_location)))
    if patient is None:
        records.get(Patient, patient_id)  # the one "No patient with id N." message
    visits = list(db.session.scalars(
        select(Appointment).where(Appointment.patient_id == patient_id)
        .order_by(Appointment.start_at.desc(), Appointment.id.desc()).limit(MAX_ROWS)
        .options(joinedload(Appointment.provider), joinedload(Appointment.room),
                 joinedload(Appointment.location), joinedload(Appointment.session_type))).unique())
    texts = list(db.session.scalars(
        select(Message).where(Message.patient_id == patient_id)
        .order_by(Message.send_at.desc(), Message.id.desc()).limit(MAX_ROWS)))
    replies = list(db.session.scalars(
        select(InboundMessage).where(InboundMessage.patient_id == patient_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc()).limit(MAX_ROWS)))
    return PatientRecord(patient=patient, visits=visits, texts=texts, replies=replies)
