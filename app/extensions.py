"""Extension objects, created unbound here and bound in ``create_app``."""

from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect

from app.db import Database
from app.jobs import Jobs
from app.presence import Presence
from app.ratelimit import InFlightLimit, RateLimiter
from app.redis_client import RedisClient

db = Database()
redis = RedisClient()
socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()
jobs = Jobs()
limiter = RateLimiter()
sends = InFlightLimit()
presence = Presence()
