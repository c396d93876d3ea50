// The queue's selection: "select all" on the page, and the count shown in the bulk form.
(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[data-select]'));
  var all = document.getElementById('select-all');
  var shown = document.getElementById('selected');
  function count() { shown.textContent = boxes.filter(function (b) { return b.checked; }).length; }
  boxes.forEach(function (b) { b.addEventListener('change', count); });
  if (all) {
    all.addEventListener('change', function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      count();
    });
  }
  count();
})();
