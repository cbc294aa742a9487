# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""cloudsync: share data between OpenStack Swift and cloud object stores."""


def __getattr__(name):
    # NOTE(cloudsync): the version is looked up when first asked for:
    # pbr's lookup costs every process (daemons, the shunt's proxy
    # workers, each command) tens of milliseconds of CPU at start-up.
    if name in ('version_info', '__version__'):
        import pbr.version
        info = pbr.version.VersionInfo('swift-cloudsync')
        globals()['version_info'] = info
        globals()['__version__'] = info.version_string()
        return globals()[name]
    raise AttributeError('module %r has no attribute %r' % (__name__, name))
