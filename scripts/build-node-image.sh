#!/usr/bin/env bash
# Build the kind node image at the pinned Kubernetes version from what this machine can reach (Debian
# packages, Go modules), for when kindest/node cannot be pulled. Prints the image's tag as its last
# line: edgeai/kind-node:<k8s version>-<key>, where <key> hashes every input (this script,
# images/kind-node/*, the pinned versions). Idempotent: the image in docker, or else the saved
# ~/.cache/edgeai/images/kind-node-<tag>.tar.gz, is reused, so a second run takes seconds.
#   bash scripts/build-node-image.sh          # build if needed, print the tag
#   bash scripts/build-node-image.sh --tag    # print the tag only (edgeai.cluster.kind asks this)
#
# The node image is assembled directly rather than with `kind build node-image`: kind's builder
# calls `ctr` options Debian's containerd 1.6 lacks, runs its build container --privileged (which
# fails here) and insists on preloading kindnet, which this image replaces with kube-router. The
# steps are kind's own: its base-image recipe on a Debian root filesystem (Dockerfile.node-base),
# the Kubernetes binaries in /usr/bin, /kind/version, the default storage manifest, and every image
# the node runs imported into the node's containerd, then `docker commit`.
#
# Inputs, all cached by version under ~/.cache/edgeai/tools (each built into <dir>.partial, renamed
# when complete): kube-apiserver & co., kubectl, etcd and kubelet, kubeadm, kube-proxy
# (scripts/build-control-plane.sh with EDGEAI_NODE_BINARIES=1, run from here); coredns,
# kube-router and local-path-provisioner built here from their Go modules.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
defs=$(cd "$here/../images/kind-node" && pwd)
# shellcheck source=tool-versions.env
source "$here/tool-versions.env"
cache=${EDGEAI_CACHE:-$HOME/.cache/edgeai}
k8s=$KUBERNETES_VERSION

key=$( { cat "${BASH_SOURCE[0]}"
         for f in "$defs"/*; do echo "== ${f##*/}"; cat "$f"; done
         grep -E '^(KUBERNETES|ETCD|KIND|COREDNS|KUBE_ROUTER|LOCAL_PATH_PROVISIONER)_VERSION=' "$here/tool-versions.env"
       } | sha256sum | cut -c1-12)
tag=edgeai/kind-node:$k8s-$key
saved=$cache/images/kind-node-$k8s-$key.tar.gz
if [[ ${1:-} == --tag ]]; then echo "$tag"; exit 0; fi
# One build at a time (setup.sh and `edgeai cluster up` may both ask): a second run waits, then
# finds the image cached.
mkdir -p "$cache/images"
exec 9>"$cache/images/.kind-node.lock"
flock 9

if docker image inspect "$tag" >/dev/null 2>&1; then echo "node image: cached" >&2; echo "$tag"; exit 0; fi
if [[ -f $saved ]]; then
  echo "node image: loading $saved" >&2
  docker load -i "$saved" >&2
  echo "$tag"; exit 0
fi

# --- the binaries -------------------------------------------------------------------------------
cp_bin=$cache/tools/kubernetes/$k8s/bin
node_bin=$cache/tools/kubernetes-node/$k8s/bin
etcd_bin=$cache/tools/etcd/$ETCD_VERSION/bin
# kubelet, kubeadm and kube-proxy join the cached control-plane builds (the same script, cached).
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
EDGEAI_NODE_BINARIES=1 bash "$here/build-control-plane.sh" >&2

go_built() { # tool version package ; prints the cached binary, building it once
  local tool=$1 version=$2 package=$3 bin="$cache/tools/$1/$2/bin"
  if [[ ! -x $bin/$tool ]]; then
    echo "$tool $version: building from its Go module (a few minutes, once)" >&2
    rm -rf "$bin.partial" && mkdir -p "$bin.partial"
    GOBIN="$bin.partial" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "$package@$version" >&2
    rm -rf "$bin" && mv "$bin.partial" "$bin"
  fi
  echo "$bin/$tool"
}
coredns=$(go_built coredns "$COREDNS_VERSION" github.com/coredns/coredns)
kube_router=$(go_built kube-router "$KUBE_ROUTER_VERSION" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
local_path=$(go_built local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" github.com/rancher/local-path-provisioner)
kind_src=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir)

work=$cache/images/kind-node-$k8s-$key.partial
rm -rf "$work" && mkdir -p "$work"
build_container=
cleanup() { [[ -n $build_container ]] && docker rm -f -v "$build_container" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT

# --- Debian root filesystems, one image per package list (keyed by the list) ------------------------
rootfs() { # name ; prints the image made from images/kind-node/<name>-packages.txt
  local list=$defs/$1-packages.txt image tar=$work/rootfs-$1.tar
  image=edgeai/kind-rootfs-$1:$(sha256sum < "$list" | cut -c1-12)
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "rootfs $1: mmdebstrap bookworm (1-4 minutes, once)" >&2
    # Into a file, not a pipe: a failed mmdebstrap must not leave an empty image behind. One retry:
    # a mirror hiccup fails apt inside mmdebstrap now and then.
    for attempt in 1 2; do
      mmdebstrap --quiet --variant=minbase --include="$(grep -v '^#' "$list" | paste -sd, -)" bookworm "$tar" \
          "deb http://deb.debian.org/debian bookworm main" \
          "deb http://deb.debian.org/debian bookworm-updates main" \
          "deb http://deb.debian.org/debian-security bookworm-security main" >&2 && break
      [[ $attempt == 2 ]] && { echo "error: mmdebstrap failed twice" >&2; exit 1; }
    done
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$tar" "$image" >/dev/null
    rm -f "$tar"
  fi
  echo "$image"
}
node_rootfs=$(rootfs node)
netbase=docker.io/edgeai/kind-netbase:bookworm
netbase_rootfs=$(rootfs netbase)
docker tag "$netbase_rootfs" "$netbase"

# --- the images the node runs -------------------------------------------------------------------
images=("$netbase")
image() { # dockerfile binary tag [base] ; docker build in a context holding only that binary
  local ctx=$work/ctx-${3//[\/:]/_}
  mkdir -p "$ctx" && cp "$1" "$ctx/Dockerfile" && cp "$2" "$ctx/"
  docker build -q -t "$3" --build-arg "BINARY=${2##*/}" --build-arg "BASE=${4:-scratch}" "$ctx" >/dev/null
  images+=("$3")
}
gcc -static -O2 -o "$work/pause" "$defs/pause.c"
sandbox=$(sed -n 's/^ *sandbox_image *= *"\(.*\)"/\1/p' "$kind_src/images/base/files/etc/containerd/config.toml")
# kubeadm names the images it runs; each gets the binary built here under that name.
required=$("$node_bin/kubeadm" config images list --kubernetes-version "$k8s")
for name in $required "$sandbox"; do
  case $name in
    */kube-proxy:*) image "$defs/Dockerfile.binary" "$node_bin/kube-proxy" "$name" "$netbase" ;;
    */kube-*:*)     bin=${name##*/}; image "$defs/Dockerfile.binary" "$cp_bin/${bin%%:*}" "$name" ;;
    */etcd:*)       image "$defs/Dockerfile.binary" "$etcd_bin/etcd" "$name" ;;
    */coredns:*)    image "$defs/Dockerfile.coredns" "$coredns" "$name" ;;
    */pause:*)      image "$defs/Dockerfile.pause" "$work/pause" "$name" ;;
    *) echo "error: no recipe for the image $name that kubeadm expects" >&2; exit 1 ;;
  esac
done
image "$defs/Dockerfile.binary" "$kube_router" "docker.io/edgeai/kube-router:$KUBE_ROUTER_VERSION" "$netbase"
image "$defs/Dockerfile.binary" "$local_path" "docker.io/edgeai/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION"
echo "images: ${images[*]}" >&2
docker save -o "$work/images.tar" "${images[@]}"

# --- the node image -------------------------------------------------------------------------------
mkdir -p "$work/node-base/kind-base"
cp -r "$kind_src/images/base/files/." "$work/node-base/kind-base/"
chmod -R u+w "$work/node-base"   # the module cache is read-only
cp "$defs/Dockerfile.node-base" "$work/node-base/Dockerfile"
base=edgeai/kind-node-base:$key
docker build -q -t "$base" --build-arg "ROOTFS=$node_rootfs" "$work/node-base" >/dev/null

build_container=$(docker run -d --tmpfs /run --tmpfs /tmp --entrypoint sleep "$base" infinity)
for b in "$node_bin/kubelet" "$node_bin/kubeadm" "$cp_bin/kubectl"; do
  docker cp "$b" "$build_container:/usr/bin/"
done
sed "s/@LOCAL_PATH_PROVISIONER_VERSION@/$LOCAL_PATH_PROVISIONER_VERSION/" "$defs/local-path-storage.yaml" \
  > "$work/default-storage.yaml"
docker exec "$build_container" mkdir -p /kind/manifests
docker cp "$work/default-storage.yaml" "$build_container:/kind/manifests/default-storage.yaml"
docker cp "$work/images.tar" "$build_container:/kind/images.tar"
# Import into the node's containerd (content only: the node unpacks on first use, as kind does), and
# pin the images so the kubelet's image garbage collection never removes what cannot be pulled again.
docker exec -i "$build_container" bash -euc "
  echo '$k8s' > /kind/version
  chown root:root /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl
  containerd >/tmp/containerd.log 2>&1 &
  for i in \$(seq 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.2; done
  ctr -n k8s.io images import --all-platforms --no-unpack --digests /kind/images.tar >/dev/null
  for ref in \$(ctr -n k8s.io images list -q | grep -v '^sha256:'); do
    ctr -n k8s.io images label \"\$ref\" io.cri-containerd.pinned=pinned >/dev/null
  done
  ctr -n k8s.io images list -q | grep -v '^sha256:' | grep -v '@sha256:'
  kill %1; wait || true
  rm /kind/images.tar"
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
  --change "LABEL io.edgeai.kind-node.cni=kube-router io.edgeai.kind-node.key=$key" \
  "$build_container" "$tag" >/dev/null

mkdir -p "${saved%/*}"
rm -f "${saved%/*}"/kind-node-"$k8s"-*.tar.gz   # older builds of this version
docker save "$tag" | gzip -1 > "$saved.partial" && mv "$saved.partial" "$saved"
echo "node image: built $tag, saved $saved" >&2
echo "$tag"
