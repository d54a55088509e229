"""Superset's one-off set-up, run inside Superset's own Python: the metadata DB's migrations, the
admin user (its password made to match the one given), then `superset init` (roles and
permissions). Idempotent. One process, because each `superset` CLI call spends most of its time
importing Superset.

Run by medley/services/superset.py before the local Superset starts, and by the bundled Superset
pod's init container (helm/medley-core/templates/superset/statefulset.yaml; the image has it at
/opt/medley/superset_prepare.py). Credentials arrive in the environment, never in argv:
MEDLEY_SUPERSET_ADMIN_USER, MEDLEY_SUPERSET_ADMIN_PASSWORD.
"""

import os

from flask.cli import ScriptInfo
from superset.app import create_app
from superset.cli.main import superset

user, password = os.environ["MEDLEY_SUPERSET_ADMIN_USER"], os.environ["MEDLEY_SUPERSET_ADMIN_PASSWORD"]
info = ScriptInfo(create_app=create_app)  # one app for all commands
for args in (
    ["db", "upgrade"],
    ["fab", "create-admin", "--username", user, "--firstname", "Medley", "--lastname", "Admin",
     "--email", user + "@localhost", "--password", password],
    # create-admin leaves an existing user alone; make its password match the one given
    ["fab", "reset-password", "--username", user, "--password", password],
    ["init"],
):
    superset.main(args, standalone_mode=False, obj=info)
