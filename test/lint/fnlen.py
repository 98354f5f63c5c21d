#!/usr/bin/env python3
"""test/lint/fnlen.py - the project's rule "no function longer than about
80 lines" as a check (`make lint`, part of `make test`).

Lists every C function definition in src/ (or the files given) whose body,
from the line of its opening brace to the line of its closing brace, is
longer than LIMIT lines (environment, default 80), longest first, and exits
1 if there is any. Comments, strings and preprocessor lines are blanked
first, so braces inside them do not count.
"""
import glob
import os
import re
import sys

LIMIT = int(os.environ.get("LIMIT", "80"))

def strip(src):
    # blank out comments, strings, char literals and preprocessor lines, keep newlines
    out = []; i = 0; n = len(src)
    bol = True
    while i < n:
        c = src[i]
        if bol and c in " \t":
            out.append(c); i += 1; continue
        if bol and c == '#':
            # preprocessor line incl. continuations
            while i < n and src[i] != '\n':
                if src[i] == '\\' and i + 1 < n and src[i+1] == '\n':
                    out.append(' \n'); i += 2; continue
                out.append(' '); i += 1
            continue
        bol = False
        if c == '\n':
            bol = True; out.append(c); i += 1; continue
        if src.startswith('/*', i):
            j = src.find('*/', i + 2); j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', src[i:j])); i = j; continue
        if src.startswith('//', i):
            j = src.find('\n', i); j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j; continue
        if c in '"\'':
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == '\\' else 1
            out.append(c + re.sub(r'[^\n]', ' ', src[i+1:j]) + c); i = j + 1; continue
        out.append(c); i += 1
    return ''.join(out)

def functions(path):
    src = open(path, encoding='utf-8', errors='replace').read()
    s = strip(src)
    depth = 0; res = []
    i = 0; n = len(s)
    while i < n:
        c = s[i]
        if c == '{':
            if depth == 0:
                head = s[:i].rstrip()
                # a function body: the text before '{' ends with ')' (maybe followed by attributes)
                m = re.search(r'([A-Za-z_]\w*)\s*\((?:[^()]|\([^()]*\))*\)\s*(?:__attribute__\s*\(\(.*?\)\)\s*)?$', head, re.S)
                name = None
                if m and m.group(1) not in ('if', 'while', 'for', 'switch', 'sizeof', '__attribute__'):
                    # exclude initialisers like "= {"
                    name = m.group(1)
                open_line = s.count('\n', 0, i) + 1
                start = i
            depth += 1
        elif c == '}':
            depth -= 1
            if depth == 0 and name:
                close_line = s.count('\n', 0, i) + 1
                res.append((name, open_line, close_line))
                name = None
        i += 1
    return res

paths = sys.argv[1:] or sorted(glob.glob('src/**/*.c', recursive=True))
rows = []
for p in paths:
    for name, a, b in functions(p):
        length = b - a + 1      # opening brace line .. closing brace line, inclusive
        if length > LIMIT:
            rows.append((length, p, a, name))
for length, p, a, name in sorted(rows, reverse=True):
    print(f"{length:5d}  {p}:{a}  {name}")
sys.exit(1 if rows else 0)
