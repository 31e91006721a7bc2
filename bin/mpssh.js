#!/usr/bin/env node
'use strict';
require('../dist/src/util/inspector-guard.js').lockInspector('mpssh');
require('../dist/src/ssh/client/main.js');
