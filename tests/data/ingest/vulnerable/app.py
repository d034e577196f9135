# SPDX-License-Identifier: Apache-2.0
# A deliberately vulnerable sample for evident's ingest tests (tests/test-ingest.sh
# runs the real Bandit over it). Every function below is a mistake a scanner
# should report. Never run or import it.
import hashlib
import os
import pickle
import subprocess
import tempfile

import requests
import yaml

DB_PASSWORD = "hunter2"


def run(user_input):
    return subprocess.Popen("ls " + user_input, shell=True)


def calculate(expression):
    return eval(expression)


def load_session(blob):
    return pickle.loads(blob)


def load_config(text):
    return yaml.load(text)


def fingerprint(data):
    return hashlib.md5(data).hexdigest()


def check_admin(user):
    assert user.is_admin
    return True


def connect(user, password="s3cret-admin"):
    return (user, password)


def run_plugin(code):
    exec(code)


def scratch_file():
    return tempfile.mktemp()


def fetch(url):
    return requests.get(url, verify=False)


def share(path):
    os.chmod(path, 0o777)


def debug_shell(cmd):
    subprocess.call(cmd, shell=True)
