"""The OpenWhisk action protocol on port 8080 for kind python:3 (stdlib only).

POST /init loads `def main(args)` from source text or from a base64 zip holding `__main__.py` (and
optionally a `virtualenv/`); POST /run calls it and answers its dict. Behaviour follows
apache/openwhisk-runtime-python; every /run and a failed /init end with the log sentinel on stdout
and stderr.
"""

import base64
import glob
import io
import json
import os
import site
import sys
import tempfile
import traceback
import zipfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'
PORT = int(os.environ.get('__OW_PROXY_PORT', '8080'))
# A 48 MiB zip is 64 MiB in base64, plus the JSON around it (the agent bounds the code first).
MAX_BODY = int(os.environ.get('__OW_MAX_BODY_BYTES', str(96 * 1024 * 1024)))


def write_markers():
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        stream.write(SENTINEL + '\n')
        stream.flush()


def set_env(env):
    for key, val in (env or {}).items():
        os.environ[key] = json.dumps(val) if isinstance(val, (dict, list)) else ('' if val is None else str(val))


def activate_virtualenv(venv):
    """Puts the zip's virtualenv first on sys.path (activate_this.py when the virtualenv has one)."""
    activate_this = os.path.join(venv, 'bin', 'activate_this.py')
    if os.path.exists(activate_this):
        with open(activate_this) as f:
            exec(compile(f.read(), activate_this, 'exec'), dict(__file__=activate_this))
        return
    before = list(sys.path)
    for packages in sorted(glob.glob(os.path.join(venv, 'lib', 'python3*', 'site-packages'))):
        site.addsitedir(packages)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


def load(message):
    """Returns the action's entry function; raises with a message a user can act on."""
    filename = '__main__.py'
    if message.get('binary'):
        workdir = tempfile.mkdtemp(prefix='action-', dir='/tmp' if os.path.isdir('/tmp') else None)
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(message['code']))) as archive:
            archive.extractall(workdir)
        source = os.path.join(workdir, filename)
        if not os.path.isfile(source):
            raise RuntimeError('Zip file does not include ' + filename)
        with open(source, encoding='utf-8') as f:
            code = f.read()
        sys.path.insert(0, workdir)
        os.chdir(workdir)
        if os.path.isdir(os.path.join(workdir, 'virtualenv')):
            activate_virtualenv(os.path.join(workdir, 'virtualenv'))
        filename = source
    else:
        code = message['code']
    context = {'__name__': 'main__', '__file__': filename}
    exec(compile(code, filename, 'exec'), context)
    fn = context.get(message['main'])
    if not callable(fn):
        raise RuntimeError("Action entrypoint '%s' is not a function." % message['main'])
    return fn


class Proxy:
    def __init__(self):
        self.fn = None
        self.status = 'ready'

    def init(self, body):
        if self.fn is not None:
            return 403, {'error': 'Cannot initialize the action more than once.'}
        if self.status != 'ready':
            return 403, {'error': 'System not ready, status is %s.' % self.status}
        message = body.get('value') if isinstance(body, dict) else None
        message = message if isinstance(message, dict) else {}
        main, code = message.get('main'), message.get('code')
        if not main or not code or not isinstance(main, str) or not isinstance(code, str):
            return 403, {'error': 'Missing main/no code to execute.'}
        try:
            set_env(message.get('env'))
            self.fn = load(message)
            return 200, {'ok': True}
        except BaseException as ex:
            self.status = 'stopped'
            traceback.print_exc(file=sys.stderr)
            write_markers()
            return 502, {'error': 'Initialization has failed due to: %s: %s' % (type(ex).__name__, ex)}

    def run(self, body):
        if self.fn is None:
            return 403, {'error': 'System not initialized.'}
        msg = body if isinstance(body, dict) else {}
        args = msg.get('value')
        args = {} if args is None else args
        if not isinstance(args, dict):
            return 403, {'error': 'Internal system error: the argument must be a dictionary.'}
        for key, val in msg.items():
            if key != 'value' and isinstance(val, (str, int, float)):
                os.environ['__OW_%s' % key.upper()] = str(val)
        try:
            result = self.fn(args)
            if isinstance(result, (dict, list)):
                reply = 200, result
            else:
                print('Result must be a dictionary but has type %s' % type(result).__name__, file=sys.stderr)
                reply = 502, {'error': 'The action did not return a dictionary.'}
        except Exception as ex:
            traceback.print_exc(file=sys.stderr)
            # As OpenWhisk's Python runtime: an exception is the action's own error (an application error).
            reply = 200, {'error': str(ex) or type(ex).__name__}
        write_markers()
        return reply


PROXY = Proxy()
LOCK = threading.Lock()  # one activation at a time (concurrency 1), whatever the connections


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_POST(self):
        length = int(self.headers.get('content-length') or 0)
        if length > MAX_BODY:
            # Read and drop it, so the caller gets the answer rather than a reset.
            while length > 0:
                length -= len(self.rfile.read(min(length, 1 << 20)) or b'x' * length)
            self.send_json(413, {'error': 'The request is larger than the runtime accepts: %s > %s bytes.'
                                 % (self.headers.get('content-length'), MAX_BODY)})
            return
        try:
            body = json.loads(self.rfile.read(length) or b'{}')
        except ValueError:
            body = {}
        if self.path in ('/init', '/run'):
            with LOCK:
                status, reply = PROXY.init(body) if self.path == '/init' else PROXY.run(body)
        else:
            status, reply = 404, {'error': 'Not found: POST %s' % self.path}
        self.send_json(status, reply)

    def do_GET(self):
        self.send_json(404, {'error': 'Not found: GET %s' % self.path})

    def send_json(self, status, reply):
        try:
            data = json.dumps(reply, ensure_ascii=False).encode('utf-8')
        except (TypeError, ValueError) as ex:
            status, data = 502, json.dumps({'error': 'The action returned a value that is not JSON: %s' % ex}).encode()
        self.send_response(status)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # the container's logs belong to the action


if __name__ == '__main__':
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    server = ThreadingHTTPServer(('0.0.0.0', PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()
