# Sourced by the check scripts: `python_with MODULE PACKAGE` prints a Python interpreter
# that can import MODULE, installing PACKAGE from PyPI when it is missing: with pip as
# usual, on Debian's externally managed Python with --break-system-packages, and failing
# that into a virtual environment kept under $TMPDIR (shared by the check scripts).
# Returns non-zero, with a message saying why, when it cannot.
python_with() {
  local module="$1" package="$2" python="${PYTHON:-python3}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "$python not found; install Python 3 (apt-get install python3 python3-venv)" >&2
    return 1
  fi
  if "$python" -c "import $module" >/dev/null 2>&1; then echo "$python"; return 0; fi
  local venv="${TMPDIR:-/tmp}/veld-python-tools"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import $module" >/dev/null 2>&1; then echo "$venv/bin/python"; return 0; fi
  echo "installing $package from PyPI" >&2
  if "$python" -m pip install --quiet "$package" >/dev/null 2>&1 ||
     "$python" -m pip install --quiet --break-system-packages "$package" >/dev/null 2>&1; then
    hash -r
    if "$python" -c "import $module" >/dev/null 2>&1; then echo "$python"; return 0; fi
  fi
  if [ ! -x "$venv/bin/python" ] && ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    echo "cannot install $package: pip refused and $python -m venv failed; install python3-venv (apt-get install python3-venv) or run: $python -m pip install $package" >&2
    return 1
  fi
  if ! "$venv/bin/python" -m pip install --quiet "$package" >&2; then
    echo "cannot install $package from PyPI into $venv" >&2
    return 1
  fi
  echo "$venv/bin/python"
}
