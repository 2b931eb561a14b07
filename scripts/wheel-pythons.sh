# Sourced by scripts/build-wheels and scripts/check-wheel: the CPython versions divan's wheels are
# built and checked for, and where each interpreter is.
#   WHEEL_VERSIONS (default "3.9 3.10 3.11 3.12 3.13"): the versions wanted.
#   wheel_python X.Y: prints the newest pyenv CPython X.Y ($PYENV_ROOT, default ~/.pyenv:
#     versions/X.Y.<patch>/bin/python3, whatever the patch), else pythonX.Y on PATH; returns 1 if
#     there is none or it cannot make a venv with pip.
WHEEL_VERSIONS="${WHEEL_VERSIONS:-3.9 3.10 3.11 3.12 3.13}"

wheel_python() {
    local v="$1" py="" cand
    cand="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$v".[0-9]*/bin/python3 2>/dev/null |
        sort -V | tail -n 1)"
    if [ -n "$cand" ] && [ -x "$cand" ]; then
        py="$cand"
    elif command -v "python$v" >/dev/null; then
        py="$(command -v "python$v")"
    fi
    [ -n "$py" ] || return 1
    # The interpreter must be that version and able to make a venv with pip in it.
    "$py" -c "import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" \
        2>/dev/null || return 1
    echo "$py"
}
