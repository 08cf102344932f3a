"""fake_k8s: image references, normalized names, digests and the imageIDs a runtime reports."""

import hashlib
import re


def _split_image(image):
    """'reg:5000/a/b:tag@sha256:x' -> ('reg:5000/a/b', 'tag' or None, 'sha256:x' or None)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    i = image.rfind(":")
    if i > image.rfind("/"):
        image, tag = image[:i], image[i + 1:]
    return image, tag, digest


def _normalize_repo(repo):
    first = repo.split("/", 1)[0]
    if "/" in repo and ("." in first or ":" in first or first == "localhost"):
        return repo
    if "/" not in repo:
        return "docker.io/library/" + repo
    return "docker.io/" + repo


def normalize_image(image):
    """The fully-qualified reference containerd reports in status.image:
    'nginx:1.21' -> 'docker.io/library/nginx:1.21', 'redis' ->
    'docker.io/library/redis:latest'; digest references keep the digest."""
    repo, tag, digest = _split_image(image)
    n = _normalize_repo(repo)
    if digest:
        return n + (":" + tag if tag else "") + "@" + digest
    return n + ":" + (tag or "latest")


def _norm_digest(d):
    if d is None:
        return None
    d = str(d)
    if not d.startswith("sha256:"):
        d = "sha256:" + d
    if not re.match(r"^sha256:[0-9a-f]{64}$", d):
        raise ValueError("bad digest %r" % d)
    return d


def default_digest(image):
    """The digest the fake 'registry' resolves an image to: the digest in the
    reference when there is one, else 'sha256:' + sha256(image string)."""
    _, _, d = _split_image(image)
    if d:
        return d
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def image_id(image, digest=None, runtime="containerd"):
    """status.containerStatuses[].imageID for a running container.
    containerd: 'docker.io/library/nginx@sha256:...';
    docker: 'docker-pullable://nginx@sha256:...'."""
    d = _norm_digest(digest) if digest else default_digest(image)
    repo, _, _ = _split_image(image)
    if runtime == "docker":
        return "docker-pullable://" + repo + "@" + d
    return _normalize_repo(repo) + "@" + d
