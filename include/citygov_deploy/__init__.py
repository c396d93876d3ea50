"""How citygov is deployed: the production topology (:mod:`citygov_deploy.topology`) and its
``airflow-init`` job (:mod:`citygov_deploy.init`). A shell around the core like ``citygov_web``: it may
import Airflow, the core (:mod:`citygov`) never imports it."""
