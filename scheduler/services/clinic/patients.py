"""Patients: contact, consent, home clinic and clearance for dosing."""
from ...models import Location, Patient
from ..platform import records
from ..platform.transaction import write_transaction


def _check_refs(values: dict) -> None:
    records.require_refs(home_location_id=(Location, values.get("home_location_id")))


def create_patient(values: dict, actor) -> Patient:
    with write_transaction():
        _check_refs(values)
        return records.add(Patient(**values), actor)


def update_patient(patient_id: int, values: dict, actor, expected_version: int | None) -> Patient:
    with write_transaction():
        patient = records.lock_current(Patient, patient_id, expected_version)
        _check_refs(values)
        return records.apply(patient, values, actor)


def patient(patient_id: int) -> Patient:
    return records.get(Patient, patient_id)


def list_patients(limit: int, after: int | None, phone: str | None = None) -> records.Page:
    filters = [Patient.phone == phone] if phone else []
    return records.page(Patient, limit, after, *filters)
