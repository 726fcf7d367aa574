"""GitOps: each site's Argo CD pulls its rendered desired state from Git (docs/gitops.md).

- tree: `edgeai gitops render` writes every object the gate renders for a site under
  deploy/<env>/<site>/ (one file per release), and `--check` says which sites are stale;
- diff: the field-level change of every object between two revisions of that tree, grouped by sites
  that change alike (`edgeai gitops diff --base REV`, the pull-request summary);
- argocd: Argo CD's core install (from its Go module, images from the site registry), the AppProject
  and the one root Application per site, as plain objects for the Pulumi stack and `edgeai up`;
- gitserver, local: the kind site's Git server and Argo CD, installed at the end of `edgeai up`;
- status: `edgeai status`, read from the site's Argo CD.
"""

DEPLOY_DIR = "deploy"          # deploy/<env>/<site>/<release>.yaml, relative to the repository root
