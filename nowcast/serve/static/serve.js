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
  var view = document.getElementById("view");  // an ensemble's mean / probability / member
  var colorbar = document.getElementById("colorbar");
  var timer = null;
  var cache = frames.map(function (f) { var i = new Image(); i.src = f.url; return i; });

  function urlOf(frame) {
    if (view && frame.views && frame.views[view.value]) { return frame.views[view.value]; }
    return frame.url;
  }
  function show(index) {
    var frame = frames[index];
    var chosen = view && frame.views ? view.options[view.selectedIndex].text : "";
    slider.value = String(index);
    image.src = urlOf(frame);
    image.alt = chosen ? chosen + ", " + frame.label : frame.label;
    image.dataset.index = String(index);
    image.dataset.view = view && frame.views ? view.value : "";
    label.textContent = chosen ? chosen + " · " + frame.label : frame.label;
    label.className = frame.kind;
  }
  if (view) {
    view.addEventListener("change", function () {
      var scale = view.options[view.selectedIndex].dataset.scale;
      colorbar.src = scale === "probability" ? colorbar.dataset.probability : colorbar.dataset.forecast;
      show(Number(slider.value));
    });
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
