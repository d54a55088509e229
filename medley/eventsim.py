"""EventSim's vocabulary: the values its output can hold (from its configs and real output)."""

LEVELS = ("free", "paid")
AUTHS = ("Logged In", "Logged Out", "Guest", "Cancelled")
# Auth states in which EventSim shows user fields (userId, names, gender, registration).
AUTHS_WITH_USER = ("Logged In", "Cancelled")
GENDERS = ("M", "F")
METHODS = ("GET", "PUT")
HTTP_STATUSES = (200, 307, 404)
PAGES = (
    "About", "Add Friend", "Add to Playlist", "Cancel", "Cancellation Confirmation", "Downgrade",
    "Error", "Help", "Home", "Login", "Logout", "NextSong", "Register", "Roll Advert",
    "Save Settings", "Settings", "Submit Downgrade", "Submit Registration", "Submit Upgrade",
    "Thumbs Down", "Thumbs Up", "Upgrade",
)
LISTEN_PAGE = "NextSong"
LOGIN_PAGE = "Login"
UPGRADE_PAGE, DOWNGRADE_PAGE = "Submit Upgrade", "Submit Downgrade"
CANCEL_PAGE = "Cancellation Confirmation"
