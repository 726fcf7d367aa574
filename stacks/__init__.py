"""Pulumi programs of the fleet: `edge_site` (one stack per site) and `training` (one per environment).

`__main__.py` only parses the stack name and dispatches; the resources are built by importable
modules (`stacks.edge_site.site.build`, `stacks.training.training.build`) so that the unit tests
import them after installing Pulumi's mocks.
"""
