"""The static checks of deploy/check.py, one module per kind of material.

- `common`: the service contract (names, ports, secret variables) and YAML loading;
- `compose`: docker-compose.yml and deploy/compose/ (schema and contract);
- `docker`: deploy/Dockerfile and .dockerignore;
- `aws`: cfn-lint, the ECS task definitions, and the template mirroring them;
- `run`: all of them in order;
- `selftest`: broken copies that each check must catch.

Each check takes the repository root and appends one line per problem to a list.
"""
