"""A static file server for the built page: correct MIME types for .wasm and .mjs (Python's default server
serves .mjs as text/plain), cross-origin isolation headers so ONNX Runtime Web may use threads, and no caching.
With --plain it sends no isolation headers, as GitHub Pages and GitLab Pages serve (they let a site set none)."""

import argparse
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".onnx": "application/octet-stream",
    }

    # Cross-origin isolation headers on every response (off with --plain).
    isolate = True

    def end_headers(self):
        if self.isolate:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def copyfile(self, source, outputfile):
        # A page closed mid-download (a test moving on, a reload) is not an error worth a traceback.
        try:
            super().copyfile(source, outputfile)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, fmt, *args):
        if "-v" in sys.argv:
            super().log_message(fmt, *args)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("-v", action="store_true", help="log requests")
    p.add_argument("--plain", action="store_true", help="no cross-origin isolation headers (as GitHub Pages serves)")
    a = p.parse_args()
    Handler.isolate = not a.plain
    handler = functools.partial(Handler, directory=a.dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    print(f"Serving {a.dir} at http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
