#!/bin/sh
# relocate-venv.sh BIN VENV: install the console scripts of a cached virtualenv's bin/ (copied to
# BIN) into the image's VENV. `medley bootstrap` builds its venvs under ~/.cache/medley/venvs, so
# their scripts start with that interpreter's path; here they start with VENV's python instead.
# Symlinks (the venv's own python) and non-Python scripts are left out.
set -eu
bin=$1
venv=$2
for script in "$bin"/*; do
    [ -f "$script" ] && [ ! -L "$script" ] || continue
    case "$(head -n 1 "$script")" in
        '#!'*python*)
            { echo "#!$venv/bin/python"; tail -n +2 "$script"; } > "$venv/bin/${script##*/}"
            chmod 755 "$venv/bin/${script##*/}" ;;
    esac
done
rm -rf "$bin"
