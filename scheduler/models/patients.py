from sqlalchemy import Index

from ..extensions import db
from .clinic import Timestamped
from .types import UTCDateTime


class Patient(Timestamped, db.Model):
    __tablename__ = "patients"
    __table_args__ = (Index("ix_patients_phone", "phone"),)
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    phone = db.Column(db.String(20), nullable=False)  # E.164
    home_location_id = db.Column(db.ForeignKey("locations.id"), nullable=False, index=True)
    sms_consent = db.Column(db.Boolean, nullable=False, default=False)
    sms_opted_out = db.Column(db.Boolean, nullable=False, default=False)
    sms_opted_out_at = db.Column(UTCDateTime)
    date_of_birth = db.Column(db.Date)
    dosing_clearance_date = db.Column(db.Date)

    home_location = db.relationship("Location")

    @property
    def display_tz(self) -> str:
        return self.home_location.timezone
