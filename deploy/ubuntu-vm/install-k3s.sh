#!/usr/bin/env bash
# Runs ON the Ubuntu VM (piped over SSH by .github/workflows/deploy-ubuntu-vm.yaml):
# installs k3s when it is missing, then waits until the node is Ready. Idempotent.
# Needs: Ubuntu 22.04/24.04, curl, passwordless sudo for the SSH user.
set -euo pipefail
K3S_VERSION="${K3S_VERSION:?set K3S_VERSION, e.g. v1.34.4+k3s1}"

if ! command -v k3s >/dev/null 2>&1; then
  echo "installing k3s $K3S_VERSION"
  # traefik is not needed (tierq serves no ingress); the kubeconfig stays root-only (0600).
  curl -sfL https://get.k3s.io |
    sudo INSTALL_K3S_VERSION="$K3S_VERSION" sh -s - server \
      --write-kubeconfig-mode 600 --disable traefik
else
  echo "k3s present: $(k3s --version | head -1)"
fi
for _ in $(seq 60); do
  sudo k3s kubectl get nodes >/dev/null 2>&1 && break
  sleep 2
done
sudo k3s kubectl wait --for=condition=Ready node --all --timeout=180s
sudo k3s kubectl get nodes -o wide
