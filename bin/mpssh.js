#!/usr/bin/env node
'use strict';
require('../dist/src/ssh/client/main.js');
