#!/usr/bin/env -S node --max-semi-space-size=1
'use strict';
// --max-semi-space-size=1: the daemon allocates little per reconcile pass; a
// small young generation costs a few more scavenges and keeps its resident
// memory about 12 MB lower. Wrappers that start it with `node` pass it too.
require('../dist/src/main.js');
