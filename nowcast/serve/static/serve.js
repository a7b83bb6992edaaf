// nowcast serve: poll for new forecasts, and the forecast page's lead-time slider.
(function () {
  "use strict";
  var POLL_MS = 30000;
  var body = document.body;

  function poll() {
    fetch("/api/revision", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.revision !== body.dataset.revision) {
          if (body.dataset.follow === "newest") { location.reload(); return; }
          var note = document.getElementById("updated");
          note.innerHTML = 'new forecast available: <a href="">reload</a>';
          if (!document.getElementById("frames")) { location.reload(); }
        }
      })
      .catch(function () { /* server restarting: try again next time */ });
  }
  setInterval(poll, POLL_MS);

  var data = document.getElementById("frames");
  if (!data) { return; }
  var frames = JSON.parse(data.textContent);
  var slider = document.getElementById("slider");
  var image = document.getElementById("frame");
  var label = document.getElementById("frame-label");
  var play = document.getElementById("play");
  var timer = null;
  var cache = frames.map(function (f) { var i = new Image(); i.src = f.url; return i; });

  function show(index) {
    var frame = frames[index];
    slider.value = String(index);
    image.src = frame.url;
    image.alt = frame.label;
    image.dataset.index = String(index);
    label.textContent = frame.label;
    label.className = frame.kind;
  }
  slider.max = String(frames.length - 1);
  slider.addEventListener("input", function () { show(Number(slider.value)); });
  play.addEventListener("click", function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "▶ play"; return; }
    play.textContent = "❚❚ pause";
    timer = setInterval(function () {
      show((Number(slider.value) + 1) % frames.length);
    }, 800);
  });
  show(Number(slider.dataset.start || 0));
  void cache;
})();
