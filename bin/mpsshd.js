#!/usr/bin/env -S node --max-semi-space-size=1
'use strict';
// --max-semi-space-size=1: the daemon allocates little per reconcile pass; a
// small young generation costs a few more scavenges and keeps its resident
// memory about 12 MB lower. Wrappers that start it with `node` pass it too.
// Before anything else: no inspector, ever (see inspector-guard.ts).
require('../dist/src/util/inspector-guard.js').lockInspector('mpsshd');
require('../dist/src/main.js');
