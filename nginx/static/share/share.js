/* share.js: the share page's copy button (progressive: the page works without it). */
(function () {
  'use strict';
  var button = document.getElementById('copy');
  var content = document.getElementById('prompt-content');
  if (!button || !content || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener('click', function () {
    navigator.clipboard.writeText(content.textContent).then(function () {
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = 'Copy'; }, 1500);
    }, function () {
      button.textContent = 'Copy failed';
    });
  });
}());
