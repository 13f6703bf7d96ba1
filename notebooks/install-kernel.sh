#!/usr/bin/env bash
# Installs the Go kernel the notebooks run on: GoNB and goimports (which
# GoNB runs on every cell), built at pinned versions in throwaway modules
# (they stay out of fingerflow's go.mod), copied to GOBIN (default
# $(go env GOPATH)/bin), and GoNB registered with Jupyter as the kernel
# "gonb" with GOBIN on its PATH.
#
#   notebooks/install-kernel.sh
#
# Needs Go and Jupyter (Debian: jupyter-nbconvert, python3-ipykernel; to
# browse the notebooks, jupyter-notebook or JupyterLab). gopls, which GoNB
# uses only for completion and hover help, is not installed.
set -euo pipefail

# GONB_VERSION must match the version the notebooks' first cell pins for
# GoNB's display package (a test checks). v0.11.4 is the first that fails
# a cell whose program exits non-zero (earlier ones print "exit status 1"
# and report success), which is how a notebook's checks fail it.
GONB_VERSION=v0.11.4
TOOLS_VERSION=v0.45.0 # golang.org/x/tools, for goimports

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
mkdir -p "$gobin"

build() { # build MODULE@VERSION PACKAGE NAME
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  (
    cd "$dir"
    go mod init kerneltools >/dev/null 2>&1
    go get "$1" 2>get.log || { cat get.log >&2; exit 1; }
    go build -o "$gobin/$3" "$2"
  )
}
build "github.com/janpfeifer/gonb@$GONB_VERSION" github.com/janpfeifer/gonb gonb
build "golang.org/x/tools/cmd/goimports@$TOOLS_VERSION" golang.org/x/tools/cmd/goimports goimports

# --force_deps: install without gopls.
PATH="$gobin:$PATH" "$gobin/gonb" --install --force_deps --logtostderr 2>/dev/null

# GoNB writes the kernel spec with an empty environment; the kernel must
# find goimports even when GOBIN is not on the PATH Jupyter starts with.
datadir=${JUPYTER_DATA_DIR:-}
if [ -z "$datadir" ]; then
  case "$(uname)" in
    Darwin) datadir="$HOME/Library/Jupyter" ;;
    *) datadir="$HOME/.local/share/jupyter" ;;
  esac
fi
spec="$datadir/kernels/gonb/kernel.json"
python3 - "$spec" "$gobin" <<'EOF'
import json, sys
path, gobin = sys.argv[1], sys.argv[2]
with open(path) as f:
    spec = json.load(f)
spec.setdefault("env", {})["PATH"] = gobin + ":${PATH}"
with open(path, "w") as f:
    json.dump(spec, f, indent=1)
    f.write("\n")
EOF
echo "installed the Go (gonb) kernel $GONB_VERSION: $spec"
