# Shared by scripts/serve and scripts/test: a project virtualenv with Pulseboard installed.
ensure_venv() {
  local extra="${1:-}"
  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  local stamp=".venv/.installed${extra:+-$extra}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # setuptools warns about editable installs in general; nothing for the user to act on.
    PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet -e ".${extra:+[$extra]}"
    touch "$stamp"
  fi
}
