#!/usr/bin/env python3
"""moto's server as `python3 -m moto.server -H HOST -p PORT` runs it, on a port the kernel
picks: binds HOST port 0, writes the port to --port-file (whole, by a rename), then serves until
SIGTERM or SIGINT. A port chosen by the test (bound and released) and bound by moto only after
its imports, seconds later under load, could be taken in between by another test's server or
connection under ctest -j2.

usage: motoserver.py --port-file PATH [-H HOST]"""
import argparse
import os
import signal
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("-H", "--host", default="127.0.0.1")
    args = ap.parse_args()

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    server = make_server(args.host, 0, app, threaded=True)  # what run_simple makes
    port = server.server_address[1]
    os.environ["MOTO_PORT"] = str(port)  # moto builds some URLs from it, as moto.server sets
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
