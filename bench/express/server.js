// bench/express/server.js -- the original stack's ceiling for bench/http.sh:
// Express 5 answering one JSON route, nothing else (no database, no auth).
// usage: node server.js PORT
'use strict';
const express = require('express');

const app = express();
app.get('/api/health', (req, res) => {
	res.json({ status: 'ok', time: Math.floor(Date.now() / 1000) });
});
const server = app.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
	console.log(`express listening on port ${server.address().port}`);
});
