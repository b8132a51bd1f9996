"""Rooms: a location's treatment chairs and therapy offices."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import ROOM_KINDS
from ..services.clinic import rooms
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, expected_version, page, page_of, with_etag

blp = Blueprint("rooms", __name__, url_prefix="/api/v1", description="Rooms")
V = ma.validate


class RoomSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    location_id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=V.Length(min=1, max=80))
    kind = ma.fields.String(required=True, validate=V.OneOf(ROOM_KINDS))
    active = ma.fields.Boolean()
    version = ma.fields.Integer(dump_only=True)


@blp.route("/locations/<int:location_id>/rooms")
class LocationRooms(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RoomSchema))
    def get(self, args, location_id):
        return rooms.list_rooms(location_id, *page(args))

    @allow(*ADMIN)
    @blp.arguments(RoomSchema)
    @blp.response(201, RoomSchema)
    def post(self, data, location_id):
        return with_etag(rooms.create_room(location_id, data, actor()), 201)


@blp.route("/rooms/<int:room_id>")
class RoomById(MethodView):
    @allow(*STAFF)
    @blp.response(200, RoomSchema)
    def get(self, room_id):
        return with_etag(rooms.room(room_id))

    @allow(*ADMIN)
    @blp.arguments(RoomSchema(partial=True))
    @blp.response(200, RoomSchema)
    def patch(self, data, room_id):
        version = expected_version("rooms", room_id)
        return with_etag(rooms.update_room(room_id, data, actor(), version))
